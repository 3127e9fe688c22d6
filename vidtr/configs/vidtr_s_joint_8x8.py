# Table 4b: VidTr-S with joint space-time attention
_base_ = './vidtr_s_8x8.py'
model = dict(backbone=dict(arch='vidtr_s_joint_8x8'))
