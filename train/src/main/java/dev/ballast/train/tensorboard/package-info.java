/**
 * TensorBoard event files written by Ballast itself: the TFRecord framing with masked CRC-32C
 * ({@link dev.ballast.train.tensorboard.TfRecord}), the few protobuf messages of an event file encoded by hand
 * ({@link dev.ballast.train.tensorboard.EventFileWriter}: scalars and histograms), and the trainer hook that logs a
 * run ({@link dev.ballast.train.tensorboard.TensorBoardHook}).
 */
package dev.ballast.train.tensorboard;
