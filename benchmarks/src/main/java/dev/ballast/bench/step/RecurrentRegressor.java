package dev.ballast.bench.step;

import dev.ballast.engine.Tensor;
import dev.ballast.engine.nn.LSTM;
import dev.ballast.engine.nn.Linear;
import dev.ballast.engine.nn.Module;
import dev.ballast.engine.nn.ParamSpec;
import dev.ballast.engine.nn.RNN;
import dev.ballast.engine.nn.RecurrentLayer;

/**
 * A one-layer RNN or LSTM over {@code [B, T, in]} and a linear head on the last step's output ({@code rnn.*},
 * {@code head.*}), as step_models.Rec; with {@code squeeze} the head's single output column is dropped ({@code [B]}).
 */
final class RecurrentRegressor extends Module {
    private final RecurrentLayer rnn;
    private final Linear head;
    private final boolean squeeze;

    RecurrentRegressor(boolean lstm, long in, long hidden, boolean squeeze, ParamSpec spec) {
        rnn = registerModule("rnn", lstm ? new LSTM(in, hidden, 1, spec) : new RNN(in, hidden, 1, spec));
        head = registerModule("head", new Linear(hidden, 1, spec));
        this.squeeze = squeeze;
    }

    @Override
    protected Tensor forward(Tensor x) {
        Tensor out = rnn.call(x); // [B, T, H]
        Tensor y = head.call(out.select(1, out.size(1) - 1));
        return squeeze ? y.squeeze(-1) : y;
    }
}
