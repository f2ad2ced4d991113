// Flat memory: the same streaming core that `ztmysql verify` runs keeps only the
// frontier and O(log n) proof state, so 10x the events must not grow the retained
// heap (sampled after forced GCs). 16 anchors in both runs, so only the events vary.
import { benchStream } from '../../../audit/bench/verify';

test('retained heap stays flat from 10k to 100k events through the streaming core', () => {
  const small = benchStream(10_000);
  const large = benchStream(100_000);
  // Absolute: under 1 MiB of retained growth for 100k events (the leaves alone are 3.2 MB
  // of hashes, the events ~30 MB); relative: at most 0.5 MiB more than for 10k.
  expect(large.peakRetainedGrowthBytes).toBeLessThan(1 << 20);
  expect(large.peakRetainedGrowthBytes - small.peakRetainedGrowthBytes).toBeLessThan(512 * 1024);
  process.stdout.write(`10k: ${small.peakRetainedGrowthBytes} B, ${Math.round(small.eventsPerSecond)} ev/s; 100k: ${large.peakRetainedGrowthBytes} B, ${Math.round(large.eventsPerSecond)} ev/s\n`);
}, 120_000);
