"""A small transformer encoder over Fashion-MNIST as a token sequence, built the way text encoders are
(token and position embeddings, attention projections and feed-forward layers as nn.Linear, LayerNorm),
for the post-training compression example.

Each image is average-pooled to 14×14 and cut into 49 patches of 2×2 pixels; each pixel is quantized to
4 grey levels, so a patch is one of 256 "visual words": a vocabulary the token embedding looks up, as a
text encoder's word embedding does."""
import torch
import torch.nn as nn
import torch.nn.functional as F

VOCABULARY = 256
TOKENS = 49


def tokenize(images: torch.Tensor) -> torch.Tensor:
    """N×1×28×28 normalised images -> N×49 token ids in [0, 256)."""
    pooled = F.avg_pool2d(images, 2)                              # N×1×14×14
    lo, hi = pooled.amin(dim=(1, 2, 3), keepdim=True), pooled.amax(dim=(1, 2, 3), keepdim=True)
    levels = ((pooled - lo) / (hi - lo).clamp_min(1e-6) * 3.999).long()  # 4 grey levels per image
    patches = levels.view(-1, 7, 2, 7, 2).permute(0, 1, 3, 2, 4).reshape(-1, TOKENS, 4)
    return (patches * torch.tensor([64, 16, 4, 1])).sum(-1)


class Block(nn.Module):
    def __init__(self, dim: int, heads: int, hidden: int):
        super().__init__()
        self.heads = heads
        self.norm1, self.norm2 = nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.query, self.key, self.value, self.out = (nn.Linear(dim, dim) for _ in range(4))
        self.up, self.down = nn.Linear(dim, hidden), nn.Linear(hidden, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, t, d = x.shape
        h = self.norm1(x)
        q, k, v = (layer(h).view(n, t, self.heads, d // self.heads).transpose(1, 2)
                   for layer in (self.query, self.key, self.value))
        attended = F.scaled_dot_product_attention(q, k, v).transpose(1, 2).reshape(n, t, d)
        x = x + self.out(attended)
        return x + self.down(F.gelu(self.up(self.norm2(x))))


class Encoder(nn.Module):
    def __init__(self, dim: int = 64, heads: int = 4, hidden: int = 128, depth: int = 2, classes: int = 10):
        super().__init__()
        self.embed = nn.Embedding(VOCABULARY, dim)
        self.position = nn.Embedding(TOKENS, dim)
        self.blocks = nn.ModuleList(Block(dim, heads, hidden) for _ in range(depth))
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, classes)

    def pooled(self, tokens: torch.Tensor) -> torch.Tensor:
        """The sentence embedding: the mean of the last layer's token states."""
        x = self.embed(tokens) + self.position(torch.arange(tokens.shape[1], device=tokens.device))
        for block in self.blocks:
            x = block(x)
        return self.norm(x).mean(1)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        return self.head(self.pooled(tokens))
