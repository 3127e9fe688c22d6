# Table 4a: 1x16x16 square patches, i.e. VidTr-S itself
_base_ = './vidtr_s_8x8.py'
model = dict(backbone=dict(arch='vidtr_s_square1x16_8x8'))
