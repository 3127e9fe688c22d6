# UniFormer-B 16x4, mmaction2's zoo config; no ImageNet weights loaded.
_base_ = 'mmaction::recognition/uniformer/uniformer-base_imagenet1k-pre_16x4x1_kinetics400-rgb.py'
model = dict(backbone=dict(pretrained=None, pretrained2d=False))
