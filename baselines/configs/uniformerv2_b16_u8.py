# UniFormerV2-B/16, 8 frames sampled uniformly, mmaction2's zoo config, with its CLIP
# initialisation turned off (clip_pretrained=False: the CLIP ViT-B/16 is never downloaded).
_base_ = 'mmaction::recognition/uniformerv2/uniformerv2-base-p16-res224_clip_8xb32-u8_kinetics400-rgb.py'
model = dict(backbone=dict(clip_pretrained=False, pretrained=None))
