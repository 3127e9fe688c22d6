# Table 4a: VidTr-S with 1x32x32 square patches
_base_ = './vidtr_s_8x8.py'
model = dict(backbone=dict(arch='vidtr_s_square1x32_8x8'))
