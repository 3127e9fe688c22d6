# Table 4b: VidTr-S with spatial then temporal attention
_base_ = './vidtr_s_8x8.py'
model = dict(backbone=dict(arch='vidtr_s_spatial_temporal_8x8'))
