"""deepcomp's layers: thin torch.nn modules over the deepcomp ops."""
from .attention import MaskedMultiheadAttention, SharedMultiheadAttention
from .compressed_embedding import CompressedEmbedding, CompressedEmbeddingBag
from .compressed_linear import CompressedLinear
from .masked_conv2d import MaskedConv2d
from .masked_layer import MaskedLayer, enforce_masks
from .masked_layers import (MaskedConv1d, MaskedConv3d, MaskedConvTranspose1d, MaskedConvTranspose2d,
                            MaskedConvTranspose3d, MaskedEmbedding, MaskedEmbeddingBag)
from .masked_linear import MaskedLinear
from .shared_conv2d import SharedConv2d
from .shared_layer import SharedLayer
from .shared_layers import (SharedConv1d, SharedConv3d, SharedConvTranspose1d, SharedConvTranspose2d,
                            SharedConvTranspose3d, SharedEmbedding, SharedEmbeddingBag)
from .shared_linear import SharedLinear

__all__ = ["CompressedEmbedding", "CompressedEmbeddingBag", "CompressedLinear", "MaskedConv1d", "MaskedConv2d",
           "MaskedConv3d", "MaskedConvTranspose1d", "MaskedConvTranspose2d", "MaskedConvTranspose3d",
           "MaskedEmbedding", "MaskedEmbeddingBag", "MaskedLayer", "MaskedLinear", "MaskedMultiheadAttention",
           "SharedConv1d", "SharedConv2d", "SharedConv3d", "SharedConvTranspose1d", "SharedConvTranspose2d",
           "SharedConvTranspose3d", "SharedEmbedding", "SharedEmbeddingBag", "SharedLayer", "SharedLinear",
           "SharedMultiheadAttention", "enforce_masks"]
