# Table 4d: C-VidTr-S down-sampling by stride-2 average pooling
_base_ = './cvidtr_s_8x8.py'
model = dict(backbone=dict(arch='cvidtr_s_avgpool_8x8'))
