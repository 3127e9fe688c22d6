# Table 4e: C-VidTr-S down-sampling at layers 0 and 2
_base_ = './cvidtr_s_8x8.py'
model = dict(backbone=dict(arch='cvidtr_s_ds0_2_8x8'))
