# Table 4c: ViT-B/16 backbone, i.e. VidTr-S itself
_base_ = './vidtr_s_8x8.py'
model = dict(backbone=dict(arch='vidtr_b16_8x8'))
