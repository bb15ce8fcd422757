/**
 * Signed reader tokens: the only way a request names a reader. Pure Java (no Vert.x), so ESPs and the CLI
 * share one codec; the wire format is specified in {@code docs/tokens.md}.
 */
package io.opentime.token;
