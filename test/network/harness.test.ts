// The network project's own guarantee: its files run in a network namespace made for the run.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

describe('network test harness', () => {
  it('runs in a network namespace of its own, with loopback up', () => {
    expect(readFileSync('/proc/self/net/dev', 'utf8')).not.toMatch(/^\s*(eth|en|wl)\w*:/m);
    const lo = readFileSync('/proc/self/net/if_inet6', 'utf8'); // ::1 on lo only while lo is up
    expect(lo).toMatch(/ lo$/m);
  });
});
