/** The command line (picocli): {@code serve} (the default, with {@code --demo}) and {@code token}. */
package io.opentime.cli;
