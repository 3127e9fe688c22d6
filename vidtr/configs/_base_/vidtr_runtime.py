# VidTr on Kinetics-400: model, optimiser and schedule of the authors' released configs.
# Data settings: each Table 1 model's config calls vidtr.configs.data.kinetics_loaders for its
# clip and batch size; the other models inherit the config of the model they vary.
_base_ = 'mmaction::_base_/default_runtime.py'
custom_imports = dict(imports=['vidtr'], allow_failed_imports=False)

model = dict(
    type='Recognizer3D',
    # arch: a name from vidtr.list_models(); pretrained: a local ViT checkpoint to inflate
    backbone=dict(type='VidTr', arch='vidtr_s_8x8', pretrained=None),
    # the released classifier: dropout 0.5 + linear; 30-view softmax averaging at test
    cls_head=dict(type='TimeSformerHead', num_classes=400, in_channels=768,
                  dropout_ratio=0.5, average_clips='prob'),
    data_preprocessor=dict(type='ActionDataPreprocessor', mean=[123.675, 116.28, 103.53],
                           std=[58.395, 57.12, 57.375], format_shape='NCTHW'))

# SGD, lr 0.01, momentum 0.9, wd 1e-5, 50 epochs, lr x0.1 at 25 and 40, no warm-up, fp32
optim_wrapper = dict(optimizer=dict(type='SGD', lr=0.01, momentum=0.9, weight_decay=1e-5))
param_scheduler = [dict(type='MultiStepLR', begin=0, end=50, by_epoch=True, milestones=[25, 40], gamma=0.1)]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=50, val_begin=1, val_interval=5)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
val_evaluator = dict(type='AccMetric')
test_evaluator = val_evaluator
# plain_checkpoint: no numpy or mmengine objects in the checkpoints, so mmaction2's tools (and
# torch.load(weights_only=True)) read them (vidtr/hooks.py); a key here, not in custom_hooks,
# which configs that inherit this one replace whole
default_hooks = dict(checkpoint=dict(interval=1, max_keep_ckpts=3),
                     plain_checkpoint=dict(type='PlainCheckpointHook'))
# curves: mmengine's scalar log (<work_dir>/<time>/vis_data/scalars.json, which `vidtr-bench curves`
# and `compare` read) and TensorBoard event files beside it (`tensorboard --logdir work/runs`);
# the smoke and demo configs inherit both (docs/logging.md: W&B or MLflow instead)
visualizer = dict(type='ActionVisualizer',
                  vis_backends=[dict(type='LocalVisBackend'), dict(type='TensorboardVisBackend')])
# released: 8 GPUs x 3 clips (S, M); 1 (L); 8 (compact)
auto_scale_lr = dict(enable=False, base_batch_size=24)
