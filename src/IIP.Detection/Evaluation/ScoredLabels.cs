namespace IIP.Detection.Evaluation;

/// <summary>Checks shared by every metric: equal lengths, finite scores, both classes present.</summary>
internal static class ScoredLabels
{
    /// <summary>Returns (positives, negatives) or throws <see cref="ArgumentException"/> saying what is wrong.</summary>
    public static (int Positives, int Negatives) Validate(IReadOnlyList<double> scores, IReadOnlyList<bool> memorized)
    {
        if (scores.Count != memorized.Count)
            throw new ArgumentException($"{scores.Count} scores but {memorized.Count} labels; they must pair up one to one");
        int positives = 0;
        for (int i = 0; i < scores.Count; i++)
        {
            if (!double.IsFinite(scores[i]))
                throw new ArgumentException($"score {i} is {scores[i]}; metrics need finite scores");
            if (memorized[i])
                positives++;
        }
        int negatives = scores.Count - positives;
        if (positives == 0 || negatives == 0)
            throw new ArgumentException(
                $"ROC metrics need at least one memorized (positive) and one non-memorized (negative) image; got {positives} positive and {negatives} negative");
        return (positives, negatives);
    }
}
