# Shared by the smoke and demo configs: small models trained and tested on this machine,
# data paths set per run, no validation loop, checked video datasets, gloo for CPU jobs; logging
# (the scalar log and TensorBoard) as the real configs, from vidtr_runtime.py.
_base_ = '../../../vidtr/configs/_base_/vidtr_runtime.py'
custom_imports = dict(imports=['vidtr', 'benchmark.data.datasets', 'benchmark.smoke'], allow_failed_imports=False)

train_dataloader = dict(
    num_workers=0, persistent_workers=False, sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(type='CheckedVideoDataset', ann_file='', data_prefix=dict(video='')))
test_dataloader = dict(
    num_workers=0, persistent_workers=False, sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type='CheckedVideoDataset', ann_file='', data_prefix=dict(video=''), test_mode=True))
val_dataloader = None
val_cfg = None
val_evaluator = None
env_cfg = dict(dist_cfg=dict(backend='gloo'))
