/**
 * The run report: what a training run recorded on its logged steps ({@link dev.ballast.train.report.RunRecorder},
 * {@link dev.ballast.train.report.RunLog}), the findings in words drawn from those numbers
 * ({@link dev.ballast.train.report.Findings}), the run directory's files (metrics as JSON lines and CSV,
 * {@link dev.ballast.train.report.RunFiles}) and the single self-contained HTML page with its charts
 * ({@link dev.ballast.train.report.ReportPage}).
 */
package dev.ballast.train.report;
