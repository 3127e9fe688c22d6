# VideoMAE V2 ViT-B/16 16x4 (distilled from ViT-g), mmaction2's zoo config.
_base_ = 'mmaction::recognition/videomaev2/vit-base-p16_videomaev2-vit-g-dist-k710-pre_16x4x1_kinetics-400.py'
