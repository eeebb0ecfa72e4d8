/**
 * Wire codec benchmarks: encode and decode of every message type, compound framing, CRC,
 * LZW and AES-GCM. `deno bench -A bench/codec.bench.ts` (or `deno task bench`); the same
 * cases run under Deno and Bun with `bench/mitata.ts`.
 */
import { codecCases, cryptoCases, denoBench } from "./cases.ts";

denoBench([...codecCases(), ...await cryptoCases()]);
