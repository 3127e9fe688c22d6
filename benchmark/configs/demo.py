# The built-in mini benchmark (benchmark/demo.py): small VidTr variants (4 layers, width 96,
# 8x32x32 clips, 8x8 patches) trained from scratch on real clips whose classes need temporal
# order (forward / backward / fast / frozen). Data paths and the variant are set per run.
_base_ = './_base_/small_runs.py'

model = dict(
    backbone=dict(arch='vidtr_s_8x8', embed_dims=96, num_heads=4, depth=4, img_size=32, patch_size=8,
                  num_frames=8, drop_rate=0.0, attn_drop_rate=0.0),
    cls_head=dict(num_classes=4, in_channels=96, dropout_ratio=0.0))

_tail = [dict(type='FormatShape', input_format='NCTHW'), dict(type='PackActionInputs')]
# clips are 8 frames of 32x32 already: take them all, in order; no spatial augmentation
# that could differ between classes (flip is the same for every class, so it is kept)
train_pipeline = [dict(type='DecordInit'), dict(type='SampleFrames', clip_len=8, frame_interval=1, num_clips=1),
                  dict(type='DecordDecode'), dict(type='Flip', flip_ratio=0.5)] + _tail
test_pipeline = [dict(type='DecordInit'),
                 dict(type='SampleFrames', clip_len=8, frame_interval=1, num_clips=1, test_mode=True),
                 dict(type='DecordDecode')] + _tail
train_dataloader = dict(batch_size=16, dataset=dict(pipeline=train_pipeline))
test_dataloader = dict(batch_size=16, dataset=dict(pipeline=test_pipeline))
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=30, val_begin=1000, val_interval=1000)
# from scratch on a few hundred clips: AdamW, one warm-up epoch, a constant rate (the models
# start to use temporal order only after ~10 epochs here), x0.2 for the last 5 epochs
optim_wrapper = dict(_delete_=True, optimizer=dict(type='AdamW', lr=5e-4, weight_decay=0.05),
                     clip_grad=dict(max_norm=1.0))
param_scheduler = [dict(type='LinearLR', start_factor=0.1, by_epoch=True, begin=0, end=1, convert_to_iter_based=True),
                   dict(type='MultiStepLR', by_epoch=True, begin=1, end=30, milestones=[25], gamma=0.2)]
default_hooks = dict(checkpoint=dict(interval=5, save_best=None, max_keep_ckpts=1), logger=dict(interval=10))
