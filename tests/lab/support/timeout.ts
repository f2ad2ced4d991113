// Lab tests talk to a real host: allow minutes, not jest's default 5 s.
jest.setTimeout(300_000);
