# Table 4e: C-VidTr-S down-sampling at layers 1 and 3
_base_ = './cvidtr_s_8x8.py'
model = dict(backbone=dict(arch='cvidtr_s_ds1_3_8x8'))
