# VideoMAE ViT-L/16 16x4, mmaction2's zoo config.
_base_ = 'mmaction::recognition/videomae/vit-large-p16_videomae-k400-pre_16x4x1_kinetics-400.py'
