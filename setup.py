"""Builds the Python package deepcomp through CMake (CMakeLists.txt is the one build description).

Install into an environment that already has PyPI's torch:
    pip install --no-build-isolation .
Environment: DEEPCOMP_FORCE_CPU=1 builds without CUDA kernels; DEEPCOMP_CMAKE_BUILD_DIR moves the
CMake build tree (default build/cmake, reused across builds); MAX_JOBS caps parallel compiles.
"""
import os
import re
import subprocess
import sys
from pathlib import Path

from setuptools import Extension, find_packages, setup
from setuptools.command.build_ext import build_ext

ROOT = Path(__file__).resolve().parent


def project_version():
    text = (ROOT / "CMakeLists.txt").read_text()
    return re.search(r"project\(deepcomp VERSION ([0-9.]+)", text).group(1)


class CMakeExtension(Extension):
    def __init__(self, name):
        super().__init__(name, sources=[])


class CMakeBuild(build_ext):
    """Configures CMake with the Python module on and builds it next to the package's sources."""

    def build_extension(self, ext):
        package_dir = Path(self.get_ext_fullpath(ext.name)).resolve().parent
        build_dir = Path(os.environ.get("DEEPCOMP_CMAKE_BUILD_DIR", ROOT / "build" / "cmake")).resolve()
        jobs = os.environ.get("MAX_JOBS", str(os.cpu_count() or 1))
        subprocess.check_call([
            "cmake", "-S", str(ROOT), "-B", str(build_dir),
            "-DDEEPCOMP_BUILD_PYTHON=ON",
            f"-DDEEPCOMP_PYTHON_OUTPUT_DIR={package_dir}",
            f"-DPython3_EXECUTABLE={sys.executable}",
            "-DDEEPCOMP_FORCE_CPU=" + ("ON" if os.environ.get("DEEPCOMP_FORCE_CPU", "0") != "0" else "OFF"),
        ])
        subprocess.check_call(["cmake", "--build", str(build_dir), "--target", "deepcomp_python", "-j", jobs])
        # Headers and CMake files in the package, for C++ users of a pip install (deepcomp.cmake_prefix_path).
        subprocess.check_call(["cmake", "--install", str(build_dir), "--prefix", str(package_dir),
                               "--component", "python"])


setup(
    name="deepcomp",
    version=project_version(),
    description="Deep Compression (pruning, trained quantization, Huffman coding) for PyTorch and LibTorch",
    package_dir={"": "python"},
    packages=find_packages("python", include=["deepcomp", "deepcomp.*"]),
    ext_modules=[CMakeExtension("deepcomp._C")],
    cmdclass={"build_ext": CMakeBuild},
    python_requires=">=3.10",
    install_requires=["torch>=2.11"],
    entry_points={"console_scripts": ["deepcomp = deepcomp.cli:main"]},
    zip_safe=False,
)
