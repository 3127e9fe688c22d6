# Table 4d: std-topK down-sampling, i.e. C-VidTr-S itself
_base_ = './cvidtr_s_8x8.py'
model = dict(backbone=dict(arch='cvidtr_s_stdtopk_8x8'))
