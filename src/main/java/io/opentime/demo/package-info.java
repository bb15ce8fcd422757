/**
 * The local Redis used by {@code serve --demo} and by the tests (a real {@code redis-server}: from PATH, or the
 * binary shipped in the embedded-redis jar), and the demo data set.
 */
package io.opentime.demo;
