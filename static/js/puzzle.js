// The slider puzzle: the piece follows the slider. Without this script the slider still posts
// its value; the piece just does not move.
document.querySelectorAll('[data-puzzle]').forEach(function (box) {
  var piece = box.querySelector('.puzzle-piece');
  var slide = box.querySelector('input[type=range]');
  if (!piece || !slide) return;
  // In units of the piece's own width, so the piece keeps to the gap when the picture is scaled.
  var unit = Number(slide.getAttribute('data-piece')) || 48;
  function follow() { piece.style.transform = 'translateX(' + (slide.value / unit * 100) + '%)'; }
  slide.addEventListener('input', follow);
  follow();
  slide.focus();
});
