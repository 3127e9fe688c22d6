# The smoke table's tiny VidTr: 2 layers of width 32 on 8x32x32 clips of generated videos.
# Data paths are set per run (benchmark/smoke.py); everything else follows the real configs.
_base_ = './_base_/small_runs.py'

model = dict(
    backbone=dict(arch='vidtr_s_8x8', embed_dims=32, num_heads=2, depth=2, img_size=32, num_frames=8,
                  drop_rate=0.0, attn_drop_rate=0.0),
    cls_head=dict(num_classes=2, in_channels=32, dropout_ratio=0.0))

_tail = [dict(type='Resize', scale=(-1, 32)), dict(type='CenterCrop', crop_size=32),
         dict(type='FormatShape', input_format='NCTHW'), dict(type='PackActionInputs')]
train_pipeline = [dict(type='DecordInit'), dict(type='SampleFrames', clip_len=8, frame_interval=1, num_clips=1),
                  dict(type='DecordDecode')] + _tail
# two temporal views per video, softmax averaged (the 30-view protocol, scaled down)
test_pipeline = [dict(type='DecordInit'),
                 dict(type='SampleFrames', clip_len=8, frame_interval=1, num_clips=2, test_mode=True),
                 dict(type='DecordDecode')] + _tail
train_dataloader = dict(batch_size=4, dataset=dict(pipeline=train_pipeline))
test_dataloader = dict(batch_size=2, dataset=dict(pipeline=test_pipeline))
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=2, val_begin=1000, val_interval=1000)
optim_wrapper = dict(optimizer=dict(type='SGD', lr=0.05, momentum=0.9, weight_decay=1e-5))
param_scheduler = []
default_hooks = dict(checkpoint=dict(interval=1, save_best=None, max_keep_ckpts=2), logger=dict(interval=1))
