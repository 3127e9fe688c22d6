# Table 4a: VidTr-S with 2x16x16 cubic patches
_base_ = './vidtr_s_8x8.py'
model = dict(backbone=dict(arch='vidtr_s_cubic2x16_8x8'))
