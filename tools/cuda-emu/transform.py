#!/usr/bin/env python3
"""Turns a kernels/cuda/*.cu file into plain C++ for the CPU emulation of tools/cuda-emu (emu_common.h):
every kernel launch `k<<<grid, block, smem, stream>>>(args)` becomes emu_launch(grid, block, smem, [&] { k(args); }),
the CUDA helpers header is swapped for emu_common.h (which brings cublas_emu.h, the host stand-in for the
cuBLAS calls), `extern __shared__ T name[]` for a pointer into the launch's dynamic shared memory, and device
memory for host memory.
The kernels/cuda/*.cuh headers it includes that launch kernels (edge_attention_layer.cuh, reduce.cuh; in that
order, the first including the second) are pasted in and transformed with it.
Usage: transform.py IN.cu OUT.cpp. A text transformation for the constructs our kernels use, no CUDA parser."""
import os
import re
import sys
s = open(sys.argv[1]).read()
root = os.path.dirname(os.path.dirname(os.path.abspath(sys.argv[1])))  # the kernels/ folder
for header in ('edge_attention_layer.cuh', 'reduce.cuh'):
    line = '#include "kernels/cuda/%s"' % header
    if line in s:
        body = open(os.path.join(root, 'cuda', header)).read()
        body = body.replace('#pragma once', '').replace('#include "kernels/cuda/common.cuh"', '')
        s = s.replace(line, body, 1).replace(line, '')
s = s.replace('#include "kernels/cuda/common.cuh"', '#include "emu_common.h"')
# dynamic shared memory `extern __shared__ T name[];` -> a pointer into the launch's buffer
s = re.sub(r'extern __shared__ ([\w:]+) (\w+)\[\];', r'\1* \2 = reinterpret_cast<\1*>(emu_dyn_smem.data());', s)
s = s.replace('Device::cuda(ctx.cuda()->device)', 'Device::cpu()').replace('ctx.cuda()->device', '0')
out = []; i = 0
while True:
    j = s.find('<<<', i)
    if j < 0: out.append(s[i:]); break
    # kernel name (with template args) before <<<
    k = j
    depth = 0
    while True:
        k -= 1
        ch = s[k]
        if ch == '>': depth += 1
        elif ch == '<': depth -= 1
        elif depth == 0 and not (ch.isalnum() or ch == '_'): k += 1; break
    name = s[k:j]
    e = s.find('>>>', j)
    cfg = s[j+3:e]
    # split cfg at top-level commas
    parts = []; d = 0; cur = ''
    for ch in cfg:
        if ch in '(<': d += 1
        if ch in ')>': d -= 1
        if ch == ',' and d == 0: parts.append(cur); cur = ''
        else: cur += ch
    parts.append(cur)
    assert s[e+3] == '(', s[e:e+10]
    a = e + 3; d = 0; m = a
    while True:
        if s[m] == '(': d += 1
        elif s[m] == ')':
            d -= 1
            if d == 0: break
        m += 1
    args = s[a+1:m]
    out.append(s[i:k])
    out.append('emu_launch(dim3(%s), dim3(%s), %s, [&] { %s(%s); })' % (parts[0], parts[1], parts[2], name, args))
    i = m + 1
open(sys.argv[2], 'w').write(''.join(out))
