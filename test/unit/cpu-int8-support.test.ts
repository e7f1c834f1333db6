/**
 * `vigil probe` says what the CPU offers INT8 models (src/inference/probe.ts): read from /proc/cpuinfo's first
 * processor. Flag sets below are cut from real machines of this project's kind (AMD EPYC Zen 1 with AVX2 only; a
 * VNNI EPYC) and from the kernel's names for the Intel features.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { cpuIntegerSupport, probeInference } from '../../src/inference/probe.js';

const cpuinfo = (model: string, flags: string) => `processor\t: 0\nvendor_id\t: AuthenticAMD\nmodel name\t: ${model}\nflags\t\t: ${flags}\n\nprocessor\t: 1\nmodel name\t: other\nflags\t\t: amx_int8\n`;

test('the best 8-bit dot-product instructions of the first processor, by /proc/cpuinfo flag', () => {
  assert.deepEqual(cpuIntegerSupport(cpuinfo('AMD EPYC', 'fpu sse4_1 sse4_2 avx fma avx2 sse4a')), { model: 'AMD EPYC', intDot: 'avx2' });
  assert.deepEqual(cpuIntegerSupport(cpuinfo('AMD EPYC 9R14', 'avx2 avx512f avx512bw avx512_vnni')), { model: 'AMD EPYC 9R14', intDot: 'avx512-vnni' });
  assert.deepEqual(cpuIntegerSupport(cpuinfo('12th Gen Intel(R) Core(TM) i7-1260P', 'avx2 avx_vnni')), { model: '12th Gen Intel(R) Core(TM) i7-1260P', intDot: 'avx-vnni' });
  assert.deepEqual(cpuIntegerSupport(cpuinfo('Intel(R) Xeon(R) Platinum 8488C', 'avx2 avx512_vnni amx_bf16 amx_tile amx_int8')), { model: 'Intel(R) Xeon(R) Platinum 8488C', intDot: 'amx' });
  assert.deepEqual(cpuIntegerSupport(cpuinfo('QEMU Virtual CPU', 'fpu sse sse2')), { model: 'QEMU Virtual CPU', intDot: 'none' });
  assert.deepEqual(cpuIntegerSupport(''), { model: 'unknown', intDot: 'none' });
});

test('probeInference reports this machine\'s CPU as its /proc/cpuinfo says', () => {
  assert.deepEqual(probeInference().cpu, cpuIntegerSupport(readFileSync('/proc/cpuinfo', 'utf8')));
});
