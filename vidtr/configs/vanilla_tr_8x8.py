# Table 2 Vanilla-Tr: VidTr-S with joint space-time attention
_base_ = './vidtr_s_8x8.py'
model = dict(backbone=dict(arch='vanilla_tr_8x8'))
