# Table 4c: VidTr-S on a ViT-L/16 backbone (width 1024)
_base_ = './vidtr_s_8x8.py'
model = dict(backbone=dict(arch='vidtr_l16_8x8'), cls_head=dict(in_channels=1024))
