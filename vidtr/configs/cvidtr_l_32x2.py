_base_ = './_base_/vidtr_runtime.py'
from vidtr.configs.data import kinetics_loaders
model = dict(backbone=dict(arch='cvidtr_l_32x2'))
train_dataloader, val_dataloader, test_dataloader = kinetics_loaders(
    '{{$VIDTR_DATA_ROOT:data}}', clip_len=32, frame_interval=2, batch_size=8)
