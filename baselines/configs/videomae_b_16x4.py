# VideoMAE ViT-B/16 16x4 (K400 self-supervised then fine-tuned), mmaction2's zoo config.
_base_ = 'mmaction::recognition/videomae/vit-base-p16_videomae-k400-pre_16x4x1_kinetics-400.py'
