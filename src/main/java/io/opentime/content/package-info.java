/**
 * Blocks: what an email may show of a profile. A block is configuration (an allowlist of fields with defaults),
 * compiled once at start-up into a name-keyed registry; URLs select a registry entry, never a file.
 */
package io.opentime.content;
