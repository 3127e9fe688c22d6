# Table 4c: VidTr-S on a T2T-ViT-14-sized backbone (width 384)
_base_ = './vidtr_s_8x8.py'
model = dict(backbone=dict(arch='vidtr_t2t14_8x8'), cls_head=dict(in_channels=384))
