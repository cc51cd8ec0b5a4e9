"""DataLoader(device="cuda") and pin_memory=True from Python, on the CPU
stand-in CUDA runtime: device_checks.py runs in a process of its own against
the module built on that runtime (python/module-fake-cuda), whose "GPU" copies
take 20 ms each, so a read that did not wait for its batch's copy shows."""
import os
import subprocess
import sys

import pytest

from conftest import make_image_folder

HERE = os.path.dirname(os.path.abspath(__file__))
FAKE_MODULE = os.environ.get("FERRY_FAKE_CUDA_MODULE")


@pytest.mark.skipif(not FAKE_MODULE, reason="this build has no CUDA stage (no module on the stand-in runtime)")
def test_device_path_on_the_stand_in_runtime(tmp_path):
    data = make_image_folder(tmp_path / "train", images=40, classes=4)
    env = dict(os.environ, PYTHONPATH=FAKE_MODULE, FERRY_FAKE_H2D_DELAY_US="20000")
    run = subprocess.run([sys.executable, os.path.join(HERE, "device_checks.py"), "--backend", "fake", "--data",
                          str(data)], env=env, capture_output=True, text=True, timeout=300)
    print(run.stdout, run.stderr)
    assert run.returncode == 0, run.stdout + run.stderr
    assert " 0 failed" in run.stdout and "6 passed" in run.stdout, run.stdout
