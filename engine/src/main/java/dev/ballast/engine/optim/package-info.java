/**
 * Optimizers (SGD, Adam, AdamW) with PyTorch semantics, parameter groups and their state dicts, stepping either
 * through composed ops or a backend's fused kernel ({@code FusedUpdate}, dispatched with device-side step counters), with
 * the learning-rate schedule ({@code backend.LrSchedule}) evaluated on the device and the host alike.
 * <p>Must not depend on the stability layer: clipping and skipping reach an optimizer only as a device coefficient
 * and flag.
 */
package dev.ballast.engine.optim;
