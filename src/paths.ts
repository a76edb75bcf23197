/** Filesystem locations of files shipped with the server (same layout from src/ and dist/). */
import path from 'node:path';

/** The repository / image root (parent of src/ or dist/). */
export const ROOT_DIR = path.resolve(__dirname, '..');
/** Committed FHIR definitions read at start-up. */
export const DEFINITIONS_DIR = path.join(ROOT_DIR, 'fhir-definitions');
/** Build outputs that are not committed (the standalone schema validator). */
export const GENERATED_DIR = path.join(ROOT_DIR, 'generated');
/** Seed bundles. */
export const SEED_DIR = path.join(ROOT_DIR, 'seed');
