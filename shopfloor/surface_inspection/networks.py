"""The networks of surface inspection: Russell and Wang's image autoencoder and a small defect classifier.

The autoencoder follows the authors' public code: three stride-2 3x3 convolutions (``filters``, 2x, 4x; ReLU then
batch norm), two linear layers down to a ``latent``-length code with tanh (bounded codes are easier for the flow),
and the mirror image back up (nearest upsampling, 3x3 convolutions, a sigmoid for BCE). Their ``filters`` is 64
(a linear layer of 16,384 x 8,192 weights); ``filters`` is a setting here because that size does not train on
two CPU cores in minutes.
"""

from __future__ import annotations

import torch
from torch import nn

from shopfloor.data.images import SIZE


def _down(cin: int, cout: int) -> list[nn.Module]:
    return [nn.Conv2d(cin, cout, 3, stride=2, padding=1), nn.ReLU(), nn.BatchNorm2d(cout)]


def _up(cin: int, cout: int) -> list[nn.Module]:
    return [nn.Upsample(scale_factor=2), nn.Conv2d(cin, cout, 3, padding=1), nn.ReLU(), nn.BatchNorm2d(cout)]


class Autoencoder(nn.Module):
    def __init__(self, latent: int = 16, filters: int = 64) -> None:
        super().__init__()
        self.latent = latent
        side = SIZE // 8
        self.shape = (filters * 4, side, side)
        features = filters * 4 * side * side
        self.encoder = nn.Sequential(*_down(1, filters), *_down(filters, filters * 2), *_down(filters * 2, filters * 4))
        self.encoder_linear = nn.Sequential(
            nn.Linear(features, features // 2), nn.ReLU(), nn.Linear(features // 2, latent), nn.Tanh()
        )
        self.decoder_linear = nn.Sequential(
            nn.Linear(latent, features // 2), nn.ReLU(), nn.Linear(features // 2, features)
        )
        self.decoder = nn.Sequential(
            *_up(filters * 4, filters * 2),
            *_up(filters * 2, filters),
            nn.Upsample(scale_factor=2),
            nn.Conv2d(filters, 1, 3, padding=1),
            nn.Sigmoid(),
        )

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """[n, 1, 64, 64] images -> [n, latent] codes in (-1, 1)."""
        return self.encoder_linear(self.encoder(x).flatten(1))

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.decoder_linear(z).reshape(len(z), *self.shape))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decode(self.encode(x))


class DefectCNN(nn.Module):
    """A small CNN trained from scratch (no pretrained weights can be had): four 3x3 conv blocks with batch norm
    and max pooling, global average pooling, one logit for "defect"."""

    def __init__(self, filters: int = 16) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        cin = 1
        for k in range(4):
            cout = filters * 2**k
            layers += [nn.Conv2d(cin, cout, 3, padding=1), nn.BatchNorm2d(cout), nn.ReLU(), nn.MaxPool2d(2)]
            cin = cout
        self.features = nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.head = nn.Sequential(nn.Dropout(0.2), nn.Linear(cin, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x)).squeeze(1)
