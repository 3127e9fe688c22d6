# Table 4e: C-VidTr-S down-sampling at layers 6 and 8
_base_ = './cvidtr_s_8x8.py'
model = dict(backbone=dict(arch='cvidtr_s_ds6_8_8x8'))
