# Table 4e: C-VidTr-S down-sampling at layers 2 and 4
_base_ = './cvidtr_s_8x8.py'
model = dict(backbone=dict(arch='cvidtr_s_ds2_4_8x8'))
