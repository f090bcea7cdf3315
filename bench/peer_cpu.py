#!/usr/bin/env python3
"""The PyTorch peer's training throughput per CPU-second, for bench/peer.ts.

Runs shared/peer/ram_torch.py unchanged except that its clock, time.time, is replaced by
time.process_time (CPU seconds of the process, all threads), so the "train img/s" it prints is
images per CPU-second of its training loop: a measure of the work a step costs that a busy
machine does not distort the way it distorts wall time.

Usage: /usr/bin/python3 bench/peer_cpu.py PEER.py [the peer's arguments...]
"""
import runpy
import sys
import time

time.time = time.process_time  # the peer reads time.time() around its training loop
peer = sys.argv[1]
sys.argv = sys.argv[1:]
runpy.run_path(peer, run_name="__main__")
