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


def pytest_collection_modifyitems(items):
    """The slow tests first. The Makefile hands the xdist workers one test at a time, so they take the
    slow ones in turn and the short ones fill in after: no worker is left running a long test alone
    at the end while the other idles."""
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)
