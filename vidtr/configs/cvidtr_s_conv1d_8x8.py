# Table 4d: C-VidTr-S down-sampling by stride-2 depthwise temporal convolution
_base_ = './cvidtr_s_8x8.py'
model = dict(backbone=dict(arch='cvidtr_s_conv1d_8x8'))
