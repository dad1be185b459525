import pytest
import torch

import deepcomp  # noqa: F401  (registers the ops)


def _devices():
    return ["cpu", pytest.param("cuda", marks=[
        pytest.mark.cuda,
        pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device"),
        pytest.mark.skipif(not deepcomp.built_with_cuda(), reason="deepcomp built without CUDA"),
    ])]


@pytest.fixture(params=_devices())
def device(request):
    return request.param


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)
