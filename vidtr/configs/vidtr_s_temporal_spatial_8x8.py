# Table 4b: temporal then spatial attention, i.e. VidTr-S itself
_base_ = './vidtr_s_8x8.py'
model = dict(backbone=dict(arch='vidtr_s_temporal_spatial_8x8'))
