"""Surface inspection from images: Russell and Wang's autoencoder with a normalizing flow on its latent codes, to
synthesize defect images for a defect classifier and, beyond their paper, to score images by the flow's likelihood
for defects nobody labelled; each against the rivals a practitioner tries first.

Images are decoded and checked by ``shopfloor.data.images`` (any size, grayscale or RGB, PNG or JPEG) to the
64x64 grayscale array every model takes. ``data``: a folder with one subfolder per class or a ``path,label`` manifest.
``simulate``: textured surfaces with scratches, pits, cracks and blotches, the embedded default.
``networks``: the autoencoder and the small CNN. ``synthesis``: the autoencoder, the latent flow and the
Gaussian-decoding ablation. ``classify`` and ``detect``: the two modes and their comparisons.
"""
