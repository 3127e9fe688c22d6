# Table 4b: VidTr-S with per-frame spatial attention only
_base_ = './vidtr_s_8x8.py'
model = dict(backbone=dict(arch='vidtr_s_spatial_only_8x8'))
